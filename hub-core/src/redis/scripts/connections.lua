-- (Included first by the directory's scripts.) Each user's device
-- connections (`alice/phone`: live session holdings of an address under
-- the user) as a hash `u:<user>` of address → node, in the user's shard
-- (addresses shard by their user), so that a claim can hold
-- `user_connection_limit` and a send to the user can find the nodes of
-- its connections. The user's own address is found by its holding.
local function user_of(address)
  local slash = string.find(address, '/', 1, true)
  if slash then return string.sub(address, 1, slash - 1) end
  return nil
end

local function connection_in(tag, address, node)
  local user = user_of(address)
  if user then redis.call('HSET', tag .. 'u:' .. user, address, node) end
end

local function connection_out(tag, address)
  local user = user_of(address)
  if user then redis.call('HDEL', tag .. 'u:' .. user, address) end
end

-- The user's live session connections: its devices, and its own address
-- when a session holds it.
local function connections_of(tag, user)
  local count = redis.call('HLEN', tag .. 'u:' .. user)
  local own = redis.call('HMGET', tag .. 'a:' .. user, 'kind', 'lingering')
  if own[1] == 's' and own[2] == '0' then count = count + 1 end
  return count
end
