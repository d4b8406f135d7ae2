-- Hands a direct message to the node holding an address. KEYS: holding
-- hash. ARGV: node channel prefix, message.
-- Returns how many subscribers the node's channel had (0: the node is
-- gone), or -1 when no one holds the address.
local held = redis.call('HMGET', KEYS[1], 'node', 'lingering')
if not held[1] or held[2] ~= '0' then
  return -1
end
return redis.call('SPUBLISH', ARGV[1] .. held[1], ARGV[2])
