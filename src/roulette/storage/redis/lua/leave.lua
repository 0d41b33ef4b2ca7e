-- leave: ARGV[6] address. Returns 1 when the user was queued (and no longer is), else 0.
if dequeue(ARGV[6]) == nil then return 0 end
return 1
