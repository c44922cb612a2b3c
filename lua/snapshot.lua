-- snapshot.lua — a consistent picture of Redis for Reconcile and the stock gauges:
-- every book's counters plus the id of the last change emitted so far, in one atomic step.
--
-- KEYS[1] the set of book ids;  KEYS[2] the change stream;  KEYS[2+i] the stock hash of
-- book i;  ARGV[i] book id i — the caller read the set (SMEMBERS) just before.
-- Returns {last_event_id, book, avail, locked, sold, total, book, ...}, or {'changed'} if
-- the set is no longer the one the caller read (a new book was restocked in between: read
-- the set again and retry).
--
-- WHY ATOMIC: Reconcile compares these counters with MySQL "as of this event id". Reading
-- the books one by one while sales go on would compare counters from different instants
-- and report drifts that do not exist. A script reads them all between two commands.
-- The cost: the script blocks Redis for as long as it runs (it is O(books)), so it is an
-- operator tool and a once-per-few-seconds gauge, never something a request calls.
--
-- WHY THE SET IS CHECKED HERE: the stock keys come in through KEYS (Redis Cluster routes
-- and checks a script by its declared keys; one built here from a prefix escapes that
-- check), so the caller must know the books before the script runs. The set can grow
-- between that read and this script; equal size and every declared book a member means
-- the two sets are equal, so the picture is still "every book, at one instant".

if redis.call('SCARD', KEYS[1]) ~= #ARGV then return {'changed'} end
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then return {'changed'} end
end
local last = '0-0'
if redis.call('EXISTS', KEYS[2]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
local out = {last}
for i = 1, #ARGV do
  local c = redis.call('HMGET', KEYS[2 + i], 'avail', 'locked', 'sold', 'total')
  out[#out + 1] = tonumber(ARGV[i])
  for j = 1, 4 do out[#out + 1] = tonumber(c[j] or 0) end
end
return out
