-- Hands a direct message to the nodes that hold an address: its holder's
-- and, when ARGV[4] is "user", the nodes of each device connection of the
-- user the address names (`alice/phone`). Each node once; the node
-- ARGV[3] names ("": none) is left out (it delivered its own part).
-- KEYS: holding hash, the user's device connections hash (same shard).
-- ARGV: node channel prefix, message, node to leave out, "holder" | "user".
-- Returns {subscribers reached, nodes published to}; {-1, 0} when no one
-- (but the node left out) holds it.
local nodes = {}
local held = redis.call('HMGET', KEYS[1], 'node', 'lingering')
if held[1] and held[2] == '0' then
  nodes[held[1]] = true
end
if ARGV[4] == 'user' then
  for _, node in ipairs(redis.call('HVALS', KEYS[2])) do
    nodes[node] = true
  end
end
nodes[ARGV[3]] = nil
local reached, count = 0, 0
for node in pairs(nodes) do
  reached = reached + redis.call('SPUBLISH', ARGV[1] .. node, ARGV[2])
  count = count + 1
end
if count == 0 then
  return {-1, 0}
end
return {reached, count}
