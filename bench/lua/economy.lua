-- The upstream-economy workload: 20 service tokens of one org, 500 resources over 5 locations,
-- resources drawn from a Zipf distribution (s = 1), tokens uniformly; a fixed seed, so every
-- server sees the same sequence of requests.
--   wrk -t1 -s bench/lua/economy.lua URL -- LIMIT [mixed]
-- The resources: 400 call parks and 100 paging groups; with `mixed`, every tenth of them of
-- another shape of the route table: call parks, paging groups, call pickups, hunt groups, call
-- queues, business-hours schedules, auto attendants, settings paths (a queue's night service,
-- the location's intercept), list pages (call parks by max) and org lists filtered by location.
-- Ends after LIMIT answers.
local tokens, resources, cdf = {}, {}, {}
local limit = 0

local function id(kind, n)
  return string.format("Y2lzY29zcGFyazovL3VzL%s%06d", kind, n)
end

dofile("bench/lua/count.lua")

-- The mixed workload's resource r in `location` (base path of the location).
local function mixed(r, location_id, location)
  local shape = r % 10
  if shape == 0 then return location .. "/paging/" .. id("1BBR0lORy9wZy0", r) end
  if shape == 1 then return location .. "/callParks/" .. id("0NBTExfUEFSSy9wYXJrLT", r) end
  if shape == 2 then return location .. "/callPickups/" .. id("0NBTExfUElDS1VQL3B1LT", r) end
  if shape == 3 then return location .. "/huntGroups/" .. id("0hVTlRfR1JPVVAvaGct", r) end
  if shape == 4 then return location .. "/queues/" .. id("0NBTExfUVVFVUUvcS0", r) end
  if shape == 5 then return location .. "/schedules/businessHours/" .. id("1NDSEVEVUxFL3MtT", r) end
  if shape == 6 then return location .. "/autoAttendants/" .. id("0FVVE9fQVRURU5EQU5UL2Et", r) end
  if shape == 7 then
    if r % 20 == 7 then return location .. "/queues/" .. id("0NBTExfUVVFVUUvcS0", r) .. "/nightService" end
    return location .. "/intercept"
  end
  if shape == 8 then return location .. "/callParks?max=" .. (r % 50 + 1) end
  return "/v1/telephony/config/huntGroups?locationId=" .. location_id .. "&max=" .. (r % 50 + 1)
end

function init(args)
  limit = tonumber(args[1] or "20000")
  local workload = args[2] or "parks"
  math.randomseed(20261125)
  for t = 1, 20 do
    tokens[t] = string.format("Bearer bench-service-%02d-Zjk3YjE4ZTUtYTJhNC00", t)
  end
  for r = 1, 500 do
    local location_id = id("0xPQ0FUSU9OL2xvYy0", (r - 1) % 5 + 1)
    local location = "/v1/telephony/config/locations/" .. location_id
    if workload == "mixed" then
      resources[r] = mixed(r, location_id, location)
    elseif r % 5 == 0 then
      resources[r] = location .. "/paging/" .. id("1BBR0lORy9wZy0", r)
    else
      resources[r] = location .. "/callParks/" .. id("0NBTExfUEFSSy9wYXJrLT", r)
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
