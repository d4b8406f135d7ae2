-- (Included by directory.lua.) Claims `address` for a holder on node
-- `d.node`: `kind` "s" (a session, its lease `ttl` ms) or "l" (an
-- in-process actor, no lease), `client` its session's id as its client sees
-- it (or empty). The last claim wins: a live session holding
-- it is evicted, told on its node's channel.
-- A session's claim counts as one of its user's connections; past
-- `d.user_limit` (0: none) a new one is refused.
-- Returns {"ok", epoch, came_online, evicted_kind, evicted_node,
-- evicted_session, evicted_epoch, user_came_online}, {"reserved"}, {"full"}
-- or {"user_full"}.
local function claim(d, address, kind, session, ttl, client)
  local key = d.tag .. 'a:' .. address
  local held = redis.call('HMGET', key, 'kind', 'node', 'session', 'epoch', 'lingering')
  local was, node, old_session, epoch, lingering = held[1], held[2], held[3], held[4], held[5]
  local live = was and lingering == '0'
  if live and was == kind and node == d.node and old_session == session then
    if kind == 's' then redis.call('ZADD', d.deadlines, d.now + ttl, address) end
    return {'ok', epoch, '0', '', '', '', '', '0'}
  end
  if live and was == 'l' and kind == 's' then
    return {'reserved'}
  end
  if kind == 's' and d.user_limit > 0 and not (live and was == 's') then
    if connections_of(d.tag, user_of(address) or address) >= d.user_limit then
      return {'user_full'}
    end
  end
  -- Counted before anything changes, taken back when over the bound.
  if not was and redis.call('INCR', d.tag .. 'held') > d.max_held then
    redis.call('DECR', d.tag .. 'held')
    return {'full'}
  end
  local evicted = {'', '', '', ''}
  if live then
    evicted = {was, node, old_session, epoch}
    if was == 's' then
      redis.call('SPUBLISH', d.node_channels .. node,
        'evict ' .. old_session .. ' ' .. epoch .. ' ' .. address)
    end
  end
  local new = redis.call('INCR', d.tag .. 'epoch')
  redis.call('HSET', key, 'kind', kind, 'node', d.node, 'session', session,
    'epoch', new, 'lingering', '0', 'client', client)
  if kind == 's' then
    redis.call('ZADD', d.deadlines, d.now + ttl, address)
    connection_in(d.tag, address, d.node)
  else
    redis.call('ZREM', d.deadlines, address)
    connection_out(d.tag, address)
  end
  local came_online, user_online = '0', '0'
  if not was then
    local user_came = present(d.tag, address, 1)
    if user_came or user_of(address) then came_online = '1' end
    if user_came then user_online = '1' end
    announce_entry(d.tag .. 'watched', d.presence, '1', address, user_came)
  end
  return {'ok', tostring(new), came_online, evicted[1], evicted[2], evicted[3], evicted[4],
    user_online}
end
