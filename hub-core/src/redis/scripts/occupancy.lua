-- Which nodes have subscribers of each topic, under one hash tag:
-- `<tag>t:<topic>` (the topic's nodes), `<tag>n:<node>` (the node's
-- topics) and KEYS[1], every node with topics by the time its claim runs
-- out (renewed by the node while it lives). ARGV: tag, node, op, then:
--   join <topic> <ttl ms>  -> 1 when the topic had no node before (occupied)
--   leave <topic>          -> 1 when it has none now (vacated)
--   renew <ttl ms>         -> keeps the node's claim (every node with a
--                             lifecycle sink: `directory_lost.rs` reads it)
--   sweep <max>            -> the topics vacated by nodes whose claim ran out
--                             (at most `max` topics of them per call)
local tag, node, op = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function leave(of, topic)
  local key = tag .. 't:' .. topic
  if redis.call('SREM', key, of) == 1 and redis.call('SCARD', key) == 0 then
    return true
  end
  return false
end

if op == 'join' then
  redis.call('SADD', tag .. 'n:' .. node, ARGV[4])
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), node)
  local key = tag .. 't:' .. ARGV[4]
  if redis.call('SADD', key, node) == 1 and redis.call('SCARD', key) == 1 then
    return 1
  end
  return 0
elseif op == 'leave' then
  redis.call('SREM', tag .. 'n:' .. node, ARGV[4])
  if leave(node, ARGV[4]) then return 1 end
  return 0
elseif op == 'renew' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), node)
  return 0
elseif op == 'sweep' then
  local left = tonumber(ARGV[4])
  local vacated = {}
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 16)) do
    local topics = redis.call('SPOP', tag .. 'n:' .. dead, left)
    for _, topic in ipairs(topics) do
      if leave(dead, topic) then vacated[#vacated + 1] = topic end
    end
    left = left - #topics
    if redis.call('EXISTS', tag .. 'n:' .. dead) == 0 then
      redis.call('ZREM', KEYS[1], dead)
    end
    if left <= 0 then break end
  end
  return vacated
end
return redis.error_reply('unknown op ' .. tostring(op))
