-- The upstream-economy workload: 20 service tokens of one org, 500 resources (400 call parks
-- and 100 paging groups) over 5 locations, resources drawn from a Zipf distribution (s = 1),
-- tokens uniformly; a fixed seed, so every server sees the same sequence of requests.
--   wrk -t1 -s bench/lua/economy.lua URL -- LIMIT
-- Ends after LIMIT answers.
local tokens, resources, cdf = {}, {}, {}
local limit = 0

local function id(kind, n)
  return string.format("Y2lzY29zcGFyazovL3VzL%s%06d", kind, n)
end

dofile("bench/lua/count.lua")

function init(args)
  limit = tonumber(args[1] or "20000")
  math.randomseed(20261125)
  for t = 1, 20 do
    tokens[t] = string.format("Bearer bench-service-%02d-Zjk3YjE4ZTUtYTJhNC00", t)
  end
  for r = 1, 500 do
    local location = id("0xPQ0FUSU9OL2xvYy0", (r - 1) % 5 + 1)
    if r % 5 == 0 then
      resources[r] = "/v1/telephony/config/locations/" .. location .. "/paging/" .. id("1BBR0lORy9wZy0", r)
    else
      resources[r] = "/v1/telephony/config/locations/" .. location .. "/callParks/" .. id("0NBTExfUEFSSy9wYXJrLT", r)
    end
  end
  -- Shuffle which resources are popular, then build the Zipf CDF over ranks.
  for i = #resources, 2, -1 do
    local j = math.random(i)
    resources[i], resources[j] = resources[j], resources[i]
  end
  local sum = 0
  for k = 1, #resources do sum = sum + 1 / k end
  local acc = 0
  for k = 1, #resources do
    acc = acc + 1 / k / sum
    cdf[k] = acc
  end
  cdf[#resources] = 1
end

local function zipf()
  local u = math.random()
  local lo, hi = 1, #cdf
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

function request()
  local path = resources[zipf()]
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", path, { ["Authorization"] = token })
end

function response(status, headers, body)
  count_answer(limit)
end
