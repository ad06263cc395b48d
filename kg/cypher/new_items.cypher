// Items that entered the catalog since a point in time, newest first, and whether they
// are already embedded (recommendable).
// Parameters:
//   $since    integer  Unix milliseconds, e.g. timestamp() - 86400000 for the last day
//   $limit    integer  how many items, e.g. 50
MATCH (i:Item) WHERE i.createdAt >= $since
RETURN i.id AS id, i.title AS title, i.createdAt AS created_at,
       i.embeddingVersion AS embedding_version, i.embedding IS NOT NULL AS recommendable,
       [(i)-[:HAS_ATTRIBUTE]->(a:Attribute) | a.id] AS attributes
ORDER BY created_at DESC, id
LIMIT $limit
