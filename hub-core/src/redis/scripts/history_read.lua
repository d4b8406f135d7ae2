-- A topic's history position and, with an offset, what is kept after it.
-- KEYS: position hash, stream. ARGV: the offset ('' for the position only),
-- most entries, ttl ms, an epoch for a new stream, position ttl ms.
-- Returns {epoch, last, covered_from, offset, frame, offset, frame...}.
local state = redis.call('HMGET', KEYS[1], 'epoch', 'last')
if not state[1] then
  -- Nothing published yet: the epoch is set now, so a subscriber told it
  -- can recover from offset 0 later.
  redis.call('HSET', KEYS[1], 'epoch', ARGV[4], 'last', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {ARGV[4], 0, 1}
end
local last = tonumber(state[2] or '0')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local before = now - tonumber(ARGV[3])
-- The oldest entry still within its TTL starts what is covered.
local covered = last + 1
local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 100)
for _, entry in ipairs(head) do
  local fields, at = entry[2], 0
  for i = 1, #fields, 2 do
    if fields[i] == 't' then at = tonumber(fields[i + 1]) end
  end
  if at >= before then
    covered = tonumber(string.match(entry[1], '^(%d+)'))
    break
  end
end
local out = {state[1], last, covered}
if ARGV[1] ~= '' then
  local after = math.max(tonumber(ARGV[1]), covered - 1)
  local entries = redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+', 'COUNT', tonumber(ARGV[2]))
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'f' then
        out[#out + 1] = tonumber(string.match(entry[1], '^(%d+)'))
        out[#out + 1] = fields[i + 1]
      end
    end
  end
end
return out
