-- settle.lua — ReleaseStock and DecrStock-confirm: end an order's reservation, one way or
-- the other. One script for both because they are the same walk over the same record and
-- differ only in where the locked units go:
--   ARGV[3] = 'release': locked -> available   (log type 2; order cancelled or expired)
--   ARGV[3] = 'confirm': locked -> sold        (log type 3; the order was paid)
--
-- KEYS[1] the order's reservation record;  KEYS[2] the pending set;  KEYS[3] the change stream
-- ARGV[1] the key prefix of stock hashes (ends with ':stock:');  ARGV[2] order id;
-- ARGV[4] remark (why: "cancelled", "payment window expired", …)
--
-- Returns {1, book, qty, book, qty, ...} settled now; {2} already settled this way
-- (a retry: nothing changes); {0} nothing was ever locked (a no-op, never a negative);
-- {3} settled the *other* way before (confirm after release, or release after confirm).
--
-- WHY THE RECORD DECIDES (DON'T: let the caller pass the quantities to give back): a
-- release of "2 units of book 7" for an order that locked none would mint stock out of
-- thin air, and a retried release would mint it twice. The script returns exactly what this
-- order locked, once, because it flips the record's state in the same atomic step.
--
-- Cluster note: the stock keys are built here from ARGV[1] rather than passed in KEYS,
-- because only the record knows which books the order holds. They carry the same hash tag
-- as KEYS[1], so they live in the same slot and Redis Cluster runs the script unchanged.
-- (The strictly-declared alternative is a read, then a script that re-checks the read.)

local action = ARGV[3]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {0} end
local done = (action == 'release') and 'released' or 'confirmed'
if state == done then return {2} end
if state ~= 'locked' then return {3} end

-- A string, like every number this script writes (see lock.lua: WHY STRINGS).
local log_type = (action == 'release') and '2' or '3'
local out = {1}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local f = fields[i]
  if string.sub(f, 1, 1) == 'b' then
    -- qs stays a string (the record stores what lock.lua wrote): see lock.lua, WHY STRINGS.
    local book, qs = string.sub(f, 2), fields[i + 1]
    local stock = ARGV[1] .. book
    redis.call('HINCRBY', stock, 'locked', '-' .. qs)
    -- The entry's layout is lock.lua's (THE ENTRY): type book q d_avail d_locked d_sold d_total order.
    if action == 'release' then
      redis.call('HINCRBY', stock, 'avail', qs)
      redis.call('XADD', KEYS[3], '*', 'e', log_type .. ' ' .. book .. ' ' .. qs .. ' ' .. qs ..
        ' -' .. qs .. ' 0 0 ' .. ARGV[2], 'r', ARGV[4])
    else
      redis.call('HINCRBY', stock, 'sold', qs)
      -- q is negative: the units leave the warehouse; available already dropped at lock time.
      redis.call('XADD', KEYS[3], '*', 'e', log_type .. ' ' .. book .. ' -' .. qs .. ' 0 -' ..
        qs .. ' ' .. qs .. ' 0 ' .. ARGV[2], 'r', ARGV[4])
    end
    out[#out + 1] = tonumber(book)
    out[#out + 1] = tonumber(qs)
  end
end
redis.call('HSET', KEYS[1], 'state', done)
redis.call('ZREM', KEYS[2], ARGV[2])
return out
