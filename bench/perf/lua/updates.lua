-- Appended to requests.lua for updates: reads each answer (status counts, next version of the resource).

local function answered(status, headers)
  local location = headers["Content-Location"] or headers["content-location"] or ""
  local path, version = location:match("(%a+/[^/]+)/_history/(%d+)$")
  if status >= 200 and status < 300 and path and by_path[path] then
    local i = by_path[path]
    lines[i].version = version
    table.insert(free, i)
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if next(by_path) ~= nil then answered(status, headers) end
end
