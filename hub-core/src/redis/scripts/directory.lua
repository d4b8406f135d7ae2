-- Claims and releases of addresses, run in the order the registry made
-- them (one run per batch the node's writer sent together).
-- KEYS: deadlines zset. ARGV: key tag, node, node channel prefix, presence
-- channel, most addresses held, most connections per user (0: none), then
-- per write either
--   "c", address, kind, session, ttl_ms, client  (claim.lua) or
--   "r", address, epoch, grace_ms          (release.lua).
-- Returns one answer per write, as claim and release return them.
local t = redis.call('TIME')
local d = {
  deadlines = KEYS[1],
  tag = ARGV[1],
  node = ARGV[2],
  node_channels = ARGV[3],
  presence = ARGV[4],
  max_held = tonumber(ARGV[5]),
  user_limit = tonumber(ARGV[6]),
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000),
}
local answers = {}
local i = 7
while i <= #ARGV do
  if ARGV[i] == 'c' then
    answers[#answers + 1] = claim(d, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]),
      ARGV[i + 5])
    i = i + 6
  else
    answers[#answers + 1] = release(d, ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]))
    i = i + 4
  end
end
return answers
