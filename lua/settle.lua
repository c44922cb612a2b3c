-- settle.lua — ReleaseStock and DecrStock-confirm: end an order's reservation, one way or
-- the other. One script for both because they are the same walk over the same record and
-- differ only in where the locked units go:
--   ARGV[2] = 'release': locked -> available   (log type 2; order cancelled or expired)
--   ARGV[2] = 'confirm': locked -> sold        (log type 3; the order was paid)
--
-- KEYS[1] the order's reservation record;  KEYS[2] the pending set;  KEYS[3] the change stream
-- KEYS[3+i] the stock hash of book i, as the caller read the record's lines (ARGV[5+i])
-- ARGV[1] order id;  ARGV[2] 'release' | 'confirm';  ARGV[3] remark (why: "cancelled",
-- "payment window expired", …);  ARGV[4] how long the settled record lives, in ms;
-- ARGV[5] = n;  ARGV[5+i] book id i
--
-- Returns {1, book, qty, book, qty, ...} settled now; {2} already settled this way
-- (a retry: nothing changes); {0} nothing was ever locked (a no-op, never a negative);
-- {3} settled the *other* way before (confirm after release, or release after confirm);
-- {5} the declared books are not the record's (read it again and retry).
--
-- WHY THE RECORD DECIDES (DON'T: let the caller pass the quantities to give back): a
-- release of "2 units of book 7" for an order that locked none would mint stock out of
-- thin air, and a retried release would mint it twice. The script returns exactly what this
-- order locked, once, because it flips the record's state in the same atomic step.
--
-- EVERY KEY IN KEYS: only the record knows which books the order holds, so the caller
-- reads the record first (HGETALL) and declares the stock keys; this script re-checks that
-- the record's lines are exactly the declared books and answers {5} otherwise. The record's
-- lines never change once lock.lua wrote them, so {5} means only "the record appeared
-- between the read and the script" (a LockStock racing its own settle), and one re-read
-- settles it. ❌ DON'T build the stock keys here from a prefix: Redis Cluster routes and
-- checks a script by its declared keys, and a key built inside the script is invisible to
-- that check (it works only while it happens to share the slot).
-- lesson:settle:start
local action = ARGV[2]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {0} end
local done = (action == 'release') and 'released' or 'confirmed'
if state == done then return {2} end
if state ~= 'locked' then return {3} end

-- A string, like every number this script writes (see lock.lua: WHY STRINGS).
local log_type = (action == 'release') and '2' or '3'
local n = tonumber(ARGV[5])
if redis.call('HLEN', KEYS[1]) - 2 ~= n then return {5} end
local lines = {}
for i = 1, n do
  lines[i] = redis.call('HGET', KEYS[1], 'b' .. ARGV[5 + i])
  if not lines[i] then return {5} end
end
local out = {1}
for i = 1, n do
  -- qs stays a string (the record stores what lock.lua wrote): see lock.lua, WHY STRINGS.
  local book, qs, stock = ARGV[5 + i], lines[i], KEYS[3 + i]
  redis.call('HINCRBY', stock, 'locked', '-' .. qs)
  -- The entry's layout is lock.lua's (THE ENTRY): type book q d_avail d_locked d_sold d_total order.
  if action == 'release' then
    redis.call('HINCRBY', stock, 'avail', qs)
    redis.call('XADD', KEYS[3], '*', 'e', log_type .. ' ' .. book .. ' ' .. qs .. ' ' .. qs ..
      ' -' .. qs .. ' 0 0 ' .. ARGV[1], 'r', ARGV[3])
  else
    redis.call('HINCRBY', stock, 'sold', qs)
    -- q is negative: the units leave the warehouse; available already dropped at lock time.
    redis.call('XADD', KEYS[3], '*', 'e', log_type .. ' ' .. book .. ' -' .. qs .. ' 0 -' ..
      qs .. ' ' .. qs .. ' 0 ' .. ARGV[1], 'r', ARGV[3])
  end
  out[#out + 1] = tonumber(book)
  out[#out + 1] = tonumber(qs)
end
redis.call('HSET', KEYS[1], 'state', done)
-- A settled record is only a replay answer now: it lives for the retry horizon, then goes
-- (an open one never expires — the sweeper still needs it to release the units).
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
return out
-- lesson:settle:end
