-- incr.lua — IncrStock: add units to a book (restock, or a return), creating its stock
-- hash if it has none. Idempotent per request id.
--
-- KEYS[1] the request's marker (exists = already applied);  KEYS[2] the change stream
-- KEYS[3] the book's stock hash;  KEYS[4] the set of every book id with stock
-- ARGV[1] book id;  ARGV[2] quantity (> 0);  ARGV[3] request id;  ARGV[4] remark
--
-- Returns {1, avail, locked, sold, total} added now, {2, ...} replayed.
--
-- WHY IDEMPOTENT: a return is often triggered by a message that may be delivered twice.
-- Without the marker the warehouse would "receive" the returned book twice, and `total`
-- would drift away from what is on the shelves.
-- DON'T: let the caller set an absolute stock ("SET stock 100") — two restocks racing each
-- other lose one of them, and sales made meanwhile are silently undone.

local function counters(code)
  local c = redis.call('HMGET', KEYS[3], 'avail', 'locked', 'sold', 'total')
  return {code, tonumber(c[1] or 0), tonumber(c[2] or 0), tonumber(c[3] or 0), tonumber(c[4] or 0)}
end

if redis.call('EXISTS', KEYS[1]) == 1 then return counters(2) end

-- The quantity stays the string it arrived as (see lock.lua: WHY STRINGS).
local q = ARGV[2]
redis.call('HINCRBY', KEYS[3], 'avail', q)
redis.call('HINCRBY', KEYS[3], 'total', q)
-- Creates the other two fields as 0 on a new book, so all four always exist.
redis.call('HINCRBY', KEYS[3], 'locked', 0)
redis.call('HINCRBY', KEYS[3], 'sold', 0)
redis.call('SADD', KEYS[4], ARGV[1])
-- The entry's layout is lock.lua's (THE ENTRY); a restock has no order (0).
redis.call('XADD', KEYS[2], '*', 'e', '4 ' .. ARGV[1] .. ' ' .. q .. ' ' .. q .. ' 0 0 ' .. q .. ' 0',
  'r', ARGV[4], 'rq', ARGV[3])
redis.call('SET', KEYS[1], 1)
return counters(1)
