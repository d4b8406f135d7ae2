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
