-- (Included by directory.lua.) Ends the holding `epoch` of `address`;
-- a stale epoch changes nothing. With a `grace` (ms) a session's address
-- lingers that long before it goes offline.
-- Returns {ended, went_offline, user_went_offline} as "0"/"1".
local function release(d, address, epoch, grace)
  local key = d.tag .. 'a:' .. address
  local held = redis.call('HMGET', key, 'kind', 'epoch', 'lingering')
  if not held[1] or held[2] ~= epoch or held[3] ~= '0' then
    return {'0', '0', '0'}
  end
  connection_out(d.tag, address)
  if grace > 0 and held[1] == 's' then
    redis.call('HSET', key, 'lingering', '1')
    redis.call('ZADD', d.deadlines, d.now + grace, address)
    return {'1', '0', '0'}
  end
  redis.call('DEL', key)
  redis.call('ZREM', d.deadlines, address)
  members_gone(d.tag, address, d.presence)
  held_one_fewer(d.tag)
  local user_went = present(d.tag, address, -1)
  announce_entry(d.tag .. 'watched', d.presence, '0', address, user_went)
  if user_went then return {'1', '1', '1'} end
  if user_of(address) then return {'1', '1', '0'} end
  return {'1', '0', '0'}
end
