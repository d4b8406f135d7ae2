-- Numbers a publication of a topic with history, keeps it and carries it to
-- every node, in one step: offsets and the order on the channel agree.
-- KEYS: position hash (epoch, last), stream (entry ID <offset>-0: f frame,
-- t Redis ms). ARGV: the topic's channel, the frame before its offset, the
-- frame after it, size (entries kept), ttl ms, position ttl ms, an epoch
-- for a new stream, the marker heading history messages.
-- Returns {epoch, offset}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[7]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'last', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'last', 1)
local frame = ARGV[2] .. offset .. ARGV[3]
redis.call('XADD', KEYS[2], offset .. '-0', 'f', frame, 't', now)
redis.call('XTRIM', KEYS[2], 'MAXLEN', tonumber(ARGV[4]))
-- Publications older than the TTL go (at most 100 a call).
local before = now - tonumber(ARGV[5])
local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 100)
local upto = nil
for _, entry in ipairs(head) do
  local fields, at = entry[2], nil
  for i = 1, #fields, 2 do
    if fields[i] == 't' then at = tonumber(fields[i + 1]) end
  end
  if not at or at >= before then break end
  upto = tonumber(string.match(entry[1], '^(%d+)'))
end
if upto then
  redis.call('XTRIM', KEYS[2], 'MINID', (upto + 1) .. '-0')
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('SPUBLISH', ARGV[1], ARGV[8] .. epoch .. ' ' .. frame)
return {epoch, offset}
