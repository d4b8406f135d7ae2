-- Records this node's directory shard count unless the hub's key holds
-- another. KEYS: the count key. ARGV: this node's count, time to live ms.
-- Returns the count the key holds now.
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then
  return tonumber(held)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return tonumber(ARGV[1])
