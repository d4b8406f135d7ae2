-- (Included by the scripts that decide an address's presence.) Announces
-- that `address` came online ('1') or went offline ('0'), on `channel`, if
-- any node watches it: the `watched` sorted set holds every watched address
-- (renewed by its watchers' nodes, dropped by `expire.lua` once stale), so
-- an address no one watches costs no message to every node.
local function announce(watched, channel, sign, address)
  if redis.call('ZSCORE', watched, address) then
    redis.call('SPUBLISH', channel, sign .. address)
  end
end

-- (After connections.lua.) A user is online while it has an entry — a
-- holding, held or lingering, of its own address or of a device's — counted
-- in `p:<user>` (deleted at 0). `present(tag, address, 1)` counts one more
-- and answers whether the user came online; `-1` one fewer, whether it
-- went offline.
local function present(tag, address, by)
  local key = tag .. 'p:' .. (user_of(address) or address)
  local n = redis.call('INCRBY', key, by)
  if n <= 0 then
    redis.call('DEL', key)
    return true
  end
  return by > 0 and n == 1
end

-- Announces an entry of `address` made ('1') or gone ('0'): a device's own
-- watchers always, and its user's when the user changed with it; a user's
-- own address's watchers when the user changed.
local function announce_entry(watched, channel, sign, address, user_changed)
  local user = user_of(address)
  if user then
    announce(watched, channel, sign, address)
    if user_changed then announce(watched, channel, sign, user) end
  elseif user_changed then
    announce(watched, channel, sign, address)
  end
end
