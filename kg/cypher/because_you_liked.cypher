// "Because you liked X": paths from a user through an item they interacted with and a
// shared attribute to a recommended item, strongest first (cosine of the two items'
// model embeddings). Open the `p` column in Neo4j Browser to see the paths.
// Parameters:
//   $user_id  string   the user's id, e.g. "u7"
//   $item_id  string   the recommended item's id, e.g. "i42"
//   $limit    integer  how many paths, e.g. 5
MATCH p = (u:User {id: $user_id})-[:INTERACTED]->(liked:Item)-[:HAS_ATTRIBUTE]->
          (a:Attribute)<-[:HAS_ATTRIBUTE]-(i:Item {id: $item_id})
WHERE liked <> i
WITH p, liked, a, i,
     CASE WHEN liked.embedding IS NULL OR i.embedding IS NULL THEN 0.0
          ELSE vector.similarity.cosine(liked.embedding, i.embedding) END AS similarity
RETURN p, liked.title AS because_you_liked, a.kind + ': ' + a.value AS shared, similarity
ORDER BY similarity DESC, because_you_liked, shared
LIMIT $limit
