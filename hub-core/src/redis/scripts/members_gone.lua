-- (Included with release.lua and by expire.lua.) The address went offline: it
-- is a member of no topic any more, each leave announced once.
local function members_gone(tag, address, channel)
  local at = tag .. 'at:' .. address
  local topics = redis.call('SMEMBERS', at)
  for _, topic in ipairs(topics) do
    if redis.call('HDEL', tag .. 'mn:' .. topic, address) == 1 then
      redis.call('HDEL', tag .. 'mi:' .. topic, address)
      redis.call('ZREM', tag .. 'm:' .. topic, address)
      redis.call('SPUBLISH', channel, 'l' .. topic .. '\n' .. address)
    end
  end
  if #topics > 0 then
    redis.call('DEL', at)
  end
end

-- (Included likewise.) One held address fewer.
local function held_one_fewer(tag)
  if redis.call('DECR', tag .. 'held') < 0 then
    redis.call('SET', tag .. 'held', 0)
  end
end
