// Items most similar to an item, through the cosine vector index `item_embedding`.
// Parameters:
//   $item_id  string   the item's business id, e.g. "i42"
//   $k        integer  how many neighbours, e.g. 10
// Returns: id, title, score (cosine mapped to [0, 1] by Neo4j), best first.
MATCH (i:Item {id: $item_id})
CALL db.index.vector.queryNodes('item_embedding', $k + 1, i.embedding) YIELD node, score
WITH i, node, score WHERE node <> i
RETURN node.id AS id, node.title AS title, score
ORDER BY score DESC, id
LIMIT $k
