-- Stores a direct message in its recipient's inbox. KEYS: state, stream,
-- and the dedupe key when the send has a msg_id. ARGV: the frame before
-- its seq, the frame after it, ttl ms, max messages, max bytes, receipt
-- ('' for none), dedupe window ms, fingerprint; on a Redis that is not a
-- cluster, also the recipient's holding key, the node channels' prefix,
-- this node's id and the `stored {...` head of the message telling the
-- holder's node (see `direct/told.rs`).
-- Returns {'stored', seq, expired, told, expired receipts...}, {'again',
-- first status}, {'conflict'}, {'unknown'} or {'full', 0, expired, -3,
-- expired receipts...} (`expired`: how many messages the TTL deleted now;
-- `told`: receivers of the holder's node channel, 0 for a node gone, -1
-- for no holder, -2 for a holder on this node, -3 for not asked).
if KEYS[3] then
  local prior = redis.call('GET', KEYS[3])
  if prior then
    if string.sub(prior, 1, #ARGV[8] + 1) ~= ARGV[8] .. ' ' then
      return {'conflict'}
    end
    return {'again', string.sub(prior, #ARGV[8] + 2)}
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'unknown'}
end
local now = redis_ms()
local out = {'stored', 0, 0, -3}
out[3] = inbox_expire(now, tonumber(ARGV[3]), out)
local state = redis.call('HMGET', KEYS[1], 'count', 'bytes', 'last')
local count, bytes = tonumber(state[1] or '0'), tonumber(state[2] or '0')
local seq = tonumber(state[3] or '0') + 1
local frame = ARGV[1] .. seq .. ARGV[2]
if count >= tonumber(ARGV[4]) or bytes + #frame > tonumber(ARGV[5]) then
  out[1] = 'full'
  return out
end
redis.call('HSET', KEYS[1], 'last', seq)
redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HINCRBY', KEYS[1], 'bytes', #frame)
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[2], seq .. '-0', 'f', frame, 't', now, 'r', ARGV[6])
else
  redis.call('XADD', KEYS[2], seq .. '-0', 'f', frame, 't', now)
end
-- The stream lives as long as its state: forgotten together.
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if KEYS[3] then
  redis.call('SET', KEYS[3], ARGV[8] .. ' queued', 'PX', ARGV[7])
end
out[2] = seq
if ARGV[9] then
  out[4] = -1
  local held = redis.call('HMGET', ARGV[9], 'node', 'lingering')
  if held[1] and held[2] == '0' then
    if held[1] == ARGV[11] then
      out[4] = -2
    else
      out[4] = redis.call('SPUBLISH', ARGV[10] .. held[1],
        ARGV[12] .. seq .. ',"frame":' .. frame .. '}')
    end
  end
end
return out
