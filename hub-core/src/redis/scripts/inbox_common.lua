-- Shared by the inbox scripts (put before each). KEYS[1]: the inbox's
-- state hash (last: highest seq given; acked: every seq up to it is
-- deleted; count, bytes: what is kept), KEYS[2]: its stream, one entry per
-- message with ID <seq>-0 and fields f (frame), t (stored at, Redis ms),
-- r (receipt, if one was asked for).

-- Redis's clock in milliseconds: every node's scripts share it.
local function redis_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Deletes the messages up to seq `upto`, counting them off the state, and
-- adds the receipts they carried to `out`. Returns how many it deleted.
-- `state`, `stream`: another inbox's keys than KEYS[1], KEYS[2] (a copy
-- of a send to a user, in one of its devices' inboxes: same hash tag).
local function inbox_drop_upto(upto, out, state, stream)
  state, stream = state or KEYS[1], stream or KEYS[2]
  local entries = redis.call('XRANGE', stream, '-', upto .. '-0')
  local count, bytes = 0, 0
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'f' then
        bytes = bytes + #fields[i + 1]
      elseif fields[i] == 'r' then
        out[#out + 1] = fields[i + 1]
      end
    end
    count = count + 1
  end
  if count > 0 then
    redis.call('XTRIM', stream, 'MINID', (upto + 1) .. '-0')
    redis.call('HINCRBY', state, 'count', -count)
    redis.call('HINCRBY', state, 'bytes', -bytes)
  end
  local acked = tonumber(redis.call('HGET', state, 'acked') or '0')
  if upto > acked then
    redis.call('HSET', state, 'acked', upto)
  end
  return count
end

-- Deletes the messages stored before `now - ttl` (at most 1,000 a call),
-- adding their receipts to `out`. Returns how many expired. `state`,
-- `stream`: as for `inbox_drop_upto`.
local function inbox_expire(now, ttl, out, state, stream)
  local before = now - ttl
  local head = redis.call('XRANGE', stream or KEYS[2], '-', '+', 'COUNT', 1000)
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
    return inbox_drop_upto(upto, out, state, stream)
  end
  return 0
end
