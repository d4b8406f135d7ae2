-- Claims an address. KEYS: holding hash, deadlines zset, epoch counter,
-- count of held addresses, watched zset.
-- ARGV: address, kind ("s" session | "l" local), node, session, ttl_ms,
--       node channel prefix, presence channel, most addresses held.
-- Returns {"ok", epoch, came_online, evicted_kind, evicted_node,
--          evicted_session, evicted_epoch}, {"reserved"} or {"full"}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 'kind', 'node', 'session', 'epoch', 'lingering')
local kind, node, session, epoch, lingering = held[1], held[2], held[3], held[4], held[5]
local live = kind and lingering == '0'
if live and kind == ARGV[2] and node == ARGV[3] and session == ARGV[4] then
  if kind == 's' then redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[1]) end
  return {'ok', epoch, '0', '', '', '', ''}
end
if live and kind == 'l' and ARGV[2] == 's' then
  return {'reserved'}
end
if not kind and tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[8]) then
  return {'full'}
end
local evicted = {'', '', '', ''}
if live then
  evicted = {kind, node, session, epoch}
  if kind == 's' then
    redis.call('SPUBLISH', ARGV[6] .. node, 'evict ' .. session .. ' ' .. epoch .. ' ' .. ARGV[1])
  end
end
local new = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], 'kind', ARGV[2], 'node', ARGV[3], 'session', ARGV[4],
  'epoch', new, 'lingering', '0')
if ARGV[2] == 's' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local came_online = '0'
if not kind then
  came_online = '1'
  redis.call('INCR', KEYS[4])
  announce(KEYS[5], ARGV[7], '1', ARGV[1])
end
return {'ok', tostring(new), came_online, evicted[1], evicted[2], evicted[3], evicted[4]}
