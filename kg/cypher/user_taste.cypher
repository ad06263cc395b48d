// The attributes a user's taste concentrates on: how many of the user's items carry
// each attribute, and the lift over the catalog (share among the user's items divided
// by the share among all items; > 1 means over-represented).
// Parameters:
//   $user_id  string   the user's id, e.g. "u7"
//   $limit    integer  how many attributes, e.g. 10
MATCH (u:User {id: $user_id})-[:INTERACTED]->(j:Item)
WITH u, count(j) AS user_items
CALL () { MATCH (x:Item) RETURN count(x) AS catalog_items }
MATCH (u)-[:INTERACTED]->(:Item)-[:HAS_ATTRIBUTE]->(a:Attribute)
WITH a, user_items, catalog_items, count(*) AS n
CALL (a) { MATCH (a)<-[:HAS_ATTRIBUTE]-(x:Item) RETURN count(x) AS catalog_n }
RETURN a.kind AS kind, a.value AS value, n AS user_items_with_it,
       round(toFloat(n) / user_items, 3) AS share,
       round((toFloat(n) / user_items) / (toFloat(catalog_n) / catalog_items), 2) AS lift
ORDER BY n DESC, lift DESC, kind, value
LIMIT $limit
