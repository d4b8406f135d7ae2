-- Pops leases and grace windows that ran out: each address goes offline,
-- announced once, here. KEYS: deadlines zset. ARGV: holding hash prefix,
-- presence channel, most to pop, key tag.
-- Returns, per address: address, kind, node, session, epoch, live, whether
-- its user went offline with it ("0"/"1"), and its session's client id.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Watched addresses whose watchers' nodes stopped renewing them.
redis.call('ZREMRANGEBYSCORE', ARGV[4] .. 'watched', '-inf', now)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, address in ipairs(due) do
  local key = ARGV[1] .. address
  local held = redis.call('HMGET', key, 'kind', 'node', 'session', 'epoch', 'lingering', 'client')
  redis.call('ZREM', KEYS[1], address)
  if held[1] then
    redis.call('DEL', key)
    connection_out(ARGV[4], address)
    members_gone(ARGV[4], address, ARGV[2])
    held_one_fewer(ARGV[4])
    local user_went = present(ARGV[4], address, -1)
    announce_entry(ARGV[4] .. 'watched', ARGV[2], '0', address, user_went)
    local live = '1'
    if held[5] == '1' then live = '0' end
    local user_offline = '0'
    if user_went then user_offline = '1' end
    local client = held[6] or ''
    for _, v in ipairs({address, held[1], held[2], held[3], held[4], live, user_offline, client}) do
      out[#out + 1] = v
    end
  end
end
return out
