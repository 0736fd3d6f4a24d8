-- Every request asks for a resource never asked for before: misses for any cache.
--   wrk -s bench/lua/unique.lua URL -- PATH_PREFIX TOKEN [LIMIT [FIRST]]
-- PATH_PREFIX ends where the ID starts; IDs are PATH_PREFIX .. a running number from FIRST + 1
-- (default 0, so that runs with distinct FIRSTs never meet). With LIMIT (0 = none),
-- the run ends after that many answers (to fill a cache with exactly LIMIT entries).
local prefix, token
local limit, first, sent = 0, 0, 0

dofile("bench/lua/count.lua")

function init(args)
  prefix = args[1]
  token = args[2]
  limit = tonumber(args[3] or "0")
  first = tonumber(args[4] or "0")
  if limit > 0 then
    response = function(status, headers, body)
      count_answer(limit)
    end
  end
end

function request()
  sent = sent + 1
  local id = string.format("Y2lzY29zcGFyazovL3VzL0NBTExfUEFSSy9iZW5jaC0%010d", first + sent)
  return wrk.format("GET", prefix .. id, { ["Authorization"] = "Bearer " .. token })
end
