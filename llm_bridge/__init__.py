"""llm_bridge."""
