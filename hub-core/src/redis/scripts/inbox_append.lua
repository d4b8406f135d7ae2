-- Stores a direct message in its recipient's inbox and, for a send to a
-- user, in each of its devices' inboxes the hub knows. KEYS: state,
-- stream, the user's devices (a set of the suffixes, `/phone`, that make a
-- device's inbox keys of the user's: the same hash tag), and the dedupe key
-- when the send has a msg_id. ARGV: the frame before its seq, the frame
-- after it, ttl ms, max messages, max bytes, receipt ('' for none), dedupe
-- window ms, fingerprint; on a Redis that is not a cluster, also the
-- recipient's holding key, the node channels' prefix, this node's id and
-- the `stored {...` head of the message telling the holder's node (see
-- `direct/told.rs`).
-- Returns {'stored', seq, expired, told, expired receipts...}, {'again',
-- first status}, {'conflict'}, {'unknown'} or {'full', 0, expired, -3,
-- expired receipts...} (`expired`: how many messages the TTL deleted now;
-- `told`: receivers of the holder's node channel, 0 for a node gone, -1
-- for no holder, -2 for a holder on this node, -3 for not asked); for a
-- user with devices {'copies', own seq (0: none), expired, told, full,
-- device copies, then per device copy: suffix, seq, n, its n expired
-- receipts; then the own inbox's expired receipts...} (`full`: inboxes
-- at their caps).
if KEYS[4] then
  local prior = redis.call('GET', KEYS[4])
  if prior then
    if string.sub(prior, 1, #ARGV[8] + 1) ~= ARGV[8] .. ' ' then
      return {'conflict'}
    end
    return {'again', string.sub(prior, #ARGV[8] + 2)}
  end
end
local devices = redis.call('SMEMBERS', KEYS[3])
local own = redis.call('EXISTS', KEYS[1]) == 1
if not own and #devices == 0 then
  return {'unknown'}
end
local now = redis_ms()

-- Stores the frame in the inbox (state, stream): its seq, or nil when
-- the inbox is at its caps. Adds the receipts of what expired to `out`.
local function store(state, stream, out)
  local expired = inbox_expire(now, tonumber(ARGV[3]), out, state, stream)
  local kept = redis.call('HMGET', state, 'count', 'bytes', 'last')
  local count, bytes = tonumber(kept[1] or '0'), tonumber(kept[2] or '0')
  local seq = tonumber(kept[3] or '0') + 1
  local frame = ARGV[1] .. seq .. ARGV[2]
  if count >= tonumber(ARGV[4]) or bytes + #frame > tonumber(ARGV[5]) then
    return nil, expired
  end
  redis.call('HSET', state, 'last', seq)
  redis.call('HINCRBY', state, 'count', 1)
  redis.call('HINCRBY', state, 'bytes', #frame)
  if ARGV[6] ~= '' then
    redis.call('XADD', stream, seq .. '-0', 'f', frame, 't', now, 'r', ARGV[6])
  else
    redis.call('XADD', stream, seq .. '-0', 'f', frame, 't', now)
  end
  -- The stream lives as long as its state: forgotten together.
  local ttl = redis.call('PTTL', state)
  if ttl > 0 then
    redis.call('PEXPIRE', stream, ttl)
  end
  return seq, expired
end

-- Tells the holder of the recipient's own address, if another node's.
local function tell(seq, frame)
  if not ARGV[9] then
    return -3
  end
  local held = redis.call('HMGET', ARGV[9], 'node', 'lingering')
  if not (held[1] and held[2] == '0') then
    return -1
  end
  if held[1] == ARGV[11] then
    return -2
  end
  return redis.call('SPUBLISH', ARGV[10] .. held[1],
    ARGV[12] .. seq .. ',"frame":' .. frame .. '}')
end

if #devices == 0 then
  local out = {'stored', 0, 0, -3}
  local seq, expired = store(KEYS[1], KEYS[2], out)
  out[3] = expired
  if not seq then
    out[1] = 'full'
    return out
  end
  if KEYS[4] then
    redis.call('SET', KEYS[4], ARGV[8] .. ' queued', 'PX', ARGV[7])
  end
  out[2] = seq
  out[4] = tell(seq, ARGV[1] .. seq .. ARGV[2])
  return out
end

-- A user with devices: one copy per inbox with room.
local head = {'copies', 0, 0, -3, 0, 0}
local own_receipts = {}
local copies = {}
if own then
  local seq, expired = store(KEYS[1], KEYS[2], own_receipts)
  head[3] = expired
  if seq then
    head[2] = seq
  else
    head[5] = 1
  end
end
local base = string.sub(KEYS[1], 1, #KEYS[1] - 2)
for _, suffix in ipairs(devices) do
  local state, stream = base .. suffix .. ':s', base .. suffix .. ':m'
  if redis.call('EXISTS', state) == 0 then
    -- Its inbox was forgotten (unseen for the retention): so is it.
    redis.call('SREM', KEYS[3], suffix)
  else
    local receipts = {}
    local seq, expired = store(state, stream, receipts)
    head[3] = head[3] + expired
    if seq then
      head[6] = head[6] + 1
      copies[#copies + 1] = suffix
      copies[#copies + 1] = seq
      copies[#copies + 1] = #receipts
      for _, r in ipairs(receipts) do
        copies[#copies + 1] = r
      end
    else
      head[5] = head[5] + 1
    end
  end
end
if head[2] == 0 and head[6] == 0 then
  if head[5] == 0 then
    return {'unknown'}
  end
  local out = {'full', 0, head[3], -3}
  for _, r in ipairs(own_receipts) do
    out[#out + 1] = r
  end
  return out
end
if KEYS[4] then
  redis.call('SET', KEYS[4], ARGV[8] .. ' queued', 'PX', ARGV[7])
end
if head[2] > 0 then
  head[4] = tell(head[2], ARGV[1] .. head[2] .. ARGV[2])
end
for _, v in ipairs(copies) do
  head[#head + 1] = v
end
for _, r in ipairs(own_receipts) do
  head[#head + 1] = r
end
return head
