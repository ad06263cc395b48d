// Whom new items are for: for each item created since $since, the users whose
// embeddings are closest to the item's (cosine vector index `user_embedding` on
// User.embedding; created by kg.schema.ensure_user_vector_index), leaving out users
// who already interacted with it.
// Parameters:
//   $since           integer  Unix milliseconds, e.g. timestamp() - 86400000
//   $users_per_item  integer  how many users per item, e.g. 5
MATCH (i:Item) WHERE i.createdAt >= $since AND i.embedding IS NOT NULL
CALL db.index.vector.queryNodes('user_embedding', $users_per_item, i.embedding)
  YIELD node AS u, score
WITH i, u, score WHERE NOT (u)-[:INTERACTED]->(i)
RETURN i.id AS item, i.title AS title, u.id AS user, score
ORDER BY item, score DESC, user
