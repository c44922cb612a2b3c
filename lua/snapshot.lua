-- snapshot.lua — a consistent picture of Redis for Reconcile and the stock gauges:
-- every book's counters plus the id of the last change emitted so far, in one atomic step.
--
-- KEYS[1] the set of book ids;  KEYS[2] the change stream;  ARGV[1] stock key prefix.
-- Returns {last_event_id, book, avail, locked, sold, total, book, ...}.
--
-- WHY ATOMIC: Reconcile compares these counters with MySQL "as of this event id". Reading
-- the books one by one while sales go on would compare counters from different instants
-- and report drifts that do not exist. A script reads them all between two commands.
-- The cost: the script blocks Redis for as long as it runs (it is O(books)), so it is an
-- operator tool and a once-per-few-seconds gauge, never something a request calls.

local last = '0-0'
if redis.call('EXISTS', KEYS[2]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
local out = {last}
for _, book in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local c = redis.call('HMGET', ARGV[1] .. book, 'avail', 'locked', 'sold', 'total')
  out[#out + 1] = tonumber(book)
  for j = 1, 4 do out[#out + 1] = tonumber(c[j] or 0) end
end
return out
