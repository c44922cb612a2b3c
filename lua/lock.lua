-- lock.lua — LockStock: move stock from available to locked for one order, all-or-nothing.
--
-- KEYS[1]   the order's reservation record (hash: state, at, b<book> = qty)
-- KEYS[2]   the pending set (zset: order id scored by lock time, read by the sweeper)
-- KEYS[3]   the change stream (the syncer copies it into MySQL's inventory_logs)
-- KEYS[3+i] the stock hash of item i (fields avail, locked, sold, total)
-- ARGV[1]   order id;  ARGV[2] = n items;  ARGV[2+i] book id i;  ARGV[2+n+i] quantity i
--
-- Returns {1, counters...} locked now, {2, counters...} replayed (this order already locked
-- or confirmed: nothing changed), {0, i} item i lacks stock, {-1, i} item i is an unknown
-- book, {3} the order was released before (a late retry must not lock again), {4} the
-- order holds a reservation with other items (a retry must repeat the request exactly).
-- "counters" = avail, locked, sold, total of every item, in request order.
--
-- WHY A SCRIPT (DON'T: GET, compare in the client, then DECRBY): between the GET and the
-- DECRBY another buyer can take the same units, and both sales succeed — the oversell the
-- lab shows. Redis runs a script to the end before any other command, so "check then
-- change" below is one indivisible step, for every item of the order at once.
--
-- WHY LOCKED STOCK (DON'T: sell at order creation): a buyer gets 15 minutes to pay. Units
-- moved to `locked` are not for sale to others, yet still not sold: payment confirms them,
-- cancellation or the sweeper returns them — both through settle.lua, which reads the
-- record this script writes.
--
-- WHY IDEMPOTENT (DON'T: trust that a request arrives once): order-service retries LockStock
-- when a reply is lost. The reservation record makes the retry a no-op instead of locking
-- the same order's books twice — but only a retry of the *same* request: the same order id
-- with other lines is refused ({4}), never answered as a replay, or a client that reused
-- an id for another basket would be told books were reserved that never were.
--
-- WHY EMIT HERE (DON'T: write the MySQL log after the script returns): if the process dies
-- between the two steps, Redis changed and MySQL never hears of it. XADD inside the script
-- makes "stock changed" and "the change is recorded" one atomic step; the syncer applies the
-- stream to MySQL later, exactly once.
--
-- THE ENTRY: one field `e` = "type book q d_avail d_locked d_sold d_total order" (integers,
-- space-separated), plus `r` (remark) and `rq` (request id) where a change has them. One
-- field, not eleven (`t`, `b`, `q`, `da`, …, the first layout): Redis stores, copies into
-- the AOF and returns to XRANGE every field name and value of every sale, and the syncer
-- allocates a map entry per field. Measured with redis-benchmark on the lab machine, an
-- eleven-field XADD cost twice a one-field one inside the script (11.5 vs 5.8 µs), and it
-- is paid on every sale. The syncer still reads the first layout (see ledger.rs).
--
-- WHY STRINGS: quantities go into commands and the entry as the strings ARGV brought
-- (`'-' .. qs`), not as Lua numbers. A Lua number handed to redis.call is turned back into
-- text with printf("%.17g") — a profile of Redis under the bench showed that formatting
-- (__printf_fp_l, hack_digit) among its top entries. `tonumber` is used only where a
-- value is compared or summed.

-- lesson:lock:start
local n = tonumber(ARGV[2])

local function counters(out)
  for i = 1, n do
    local c = redis.call('HMGET', KEYS[3 + i], 'avail', 'locked', 'sold', 'total')
    for j = 1, 4 do out[#out + 1] = tonumber(c[j] or 0) end
  end
  return out
end

local state = redis.call('HGET', KEYS[1], 'state')
if state == 'released' then return {3} end
if state then
  -- The record holds `state`, `at` and one `b<book>` field per line: same lines, same
  -- quantities (as the strings lock wrote), or it is not a retry of this request.
  if redis.call('HLEN', KEYS[1]) - 2 ~= n then return {4} end
  for i = 1, n do
    if redis.call('HGET', KEYS[1], 'b' .. ARGV[2 + i]) ~= ARGV[2 + n + i] then return {4} end
  end
  return counters({2})
end

-- Check every item before changing any: all-or-nothing without a rollback. What was read
-- is kept, so the reply is computed without reading the hashes a second time.
local before = {}
for i = 1, n do
  local c = redis.call('HMGET', KEYS[3 + i], 'avail', 'locked', 'sold', 'total')
  if not c[1] then return {-1, i} end
  if tonumber(c[1]) < tonumber(ARGV[2 + n + i]) then return {0, i} end
  before[i] = c
end

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {1}
for i = 1, n do
  local book, qs = ARGV[2 + i], ARGV[2 + n + i]
  local q = tonumber(qs)
  redis.call('HINCRBY', KEYS[3 + i], 'avail', '-' .. qs)
  redis.call('HINCRBY', KEYS[3 + i], 'locked', qs)
  redis.call('HSET', KEYS[1], 'b' .. book, qs)
  -- type 1 (lock), signed quantity -q, deltas: avail -q, locked +q, sold 0, total 0
  redis.call('XADD', KEYS[3], '*',
    'e', '1 ' .. book .. ' -' .. qs .. ' -' .. qs .. ' ' .. qs .. ' 0 0 ' .. ARGV[1])
  local c = before[i]
  out[#out + 1] = tonumber(c[1]) - q
  out[#out + 1] = tonumber(c[2] or 0) + q
  out[#out + 1] = tonumber(c[3] or 0)
  out[#out + 1] = tonumber(c[4] or 0)
end
redis.call('HSET', KEYS[1], 'state', 'locked', 'at', now_ms)
redis.call('ZADD', KEYS[2], now_ms, ARGV[1])
return out
-- lesson:lock:end
