-- unlock.lua — release the rebuild lock, but only if we still hold it.
--
-- KEYS[1] the lock;  ARGV[1] the token our SET NX wrote.  Returns 1 released, 0 not ours.
--
-- DON'T release with a plain DEL: if our lock expired while we were slow, another instance
-- now holds it, and DEL would free *its* lock — a third instance could then rebuild while
-- the second still writes. Comparing the token and deleting in one script is the only way
-- to make "is it still mine?" and "delete" one step.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
