-- decr.lua — DecrStock with items: the course's direct decrement (available -> sold),
-- all-or-nothing across the items, idempotent per order id. The race experiment's "Lua"
-- strategy and the bench drive exactly this script.
--
-- KEYS[1]   the direct-sale marker of this order id (exists = already applied)
-- KEYS[2]   the change stream
-- KEYS[2+i] the stock hash of item i
-- ARGV[1]   order id;  ARGV[2] = n;  ARGV[2+i] book id i;  ARGV[2+n+i] quantity i;
-- ARGV[3+2n] how long the marker lives, in ms (store::keys::REPLAY_RETENTION)
--
-- Returns {1, counters...} sold now, {2, counters...} replayed, {0, i} item i lacks stock,
-- {-1, i} item i is an unknown book. counters = avail, locked, sold, total per item.
--
-- DO: read, check and write in one script. The course's first version
--   GET stock; if stock >= q then DECRBY stock q
-- is correct only because it runs inside Lua. The same two commands sent from the client
-- oversell: a thousand buyers all read "1 left" before any of them decrements.
-- DON'T: "DECRBY, and INCRBY back if it went negative" — between the two, other buyers see
-- a negative stock and are refused although the stock was there, and a crash in between
-- loses the units for good.

local n = tonumber(ARGV[2])

local function counters(out)
  for i = 1, n do
    local c = redis.call('HMGET', KEYS[2 + i], 'avail', 'locked', 'sold', 'total')
    for j = 1, 4 do out[#out + 1] = tonumber(c[j] or 0) end
  end
  return out
end

if redis.call('EXISTS', KEYS[1]) == 1 then return counters({2}) end

-- Check every line first, keeping what was read: the reply is computed from it below, so
-- a sale costs no second read of the hashes.
local before = {}
for i = 1, n do
  local c = redis.call('HMGET', KEYS[2 + i], 'avail', 'locked', 'sold', 'total')
  if not c[1] then return {-1, i} end
  if tonumber(c[1]) < tonumber(ARGV[2 + n + i]) then return {0, i} end
  before[i] = c
end

local out = {1}
for i = 1, n do
  -- qs: the quantity as the string it arrived as (see lock.lua: WHY STRINGS).
  local book, qs = ARGV[2 + i], ARGV[2 + n + i]
  local q = tonumber(qs)
  redis.call('HINCRBY', KEYS[2 + i], 'avail', '-' .. qs)
  redis.call('HINCRBY', KEYS[2 + i], 'sold', qs)
  -- Emitted in the same atomic step as the change (see lock.lua: WHY EMIT HERE).
  -- e = type book q d_avail d_locked d_sold d_total order (see lock.lua: THE ENTRY).
  redis.call('XADD', KEYS[2], '*',
    'e', '3 ' .. book .. ' -' .. qs .. ' -' .. qs .. ' 0 ' .. qs .. ' 0 ' .. ARGV[1], 'r', 'direct')
  local c = before[i]
  out[#out + 1] = tonumber(c[1]) - q
  out[#out + 1] = tonumber(c[2] or 0)
  out[#out + 1] = tonumber(c[3] or 0) + q
  out[#out + 1] = tonumber(c[4] or 0)
end
-- SET … PX in one command: a marker written by SET and then PEXPIRE would live forever
-- if the script were stopped between the two (SCRIPT KILL cannot, but a bug could).
redis.call('SET', KEYS[1], 1, 'PX', ARGV[3 + 2 * n])
return out
