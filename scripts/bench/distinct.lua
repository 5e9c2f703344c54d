-- wrk script for the cold case of scripts/bench/load.sh: every request carries another token.
-- TOKENS_FILE holds one token per line; of WRK_THREADS threads, thread i sends tokens i, i+n, ...
-- (wrapping around at the end of its share, by which time the server's cache has long evicted
-- them: the file holds more tokens than the cache's entry bound).
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local path = os.getenv("TOKENS_FILE")
  local threads = tonumber(os.getenv("WRK_THREADS") or "1")
  tokens = {}
  local i = 0
  for line in io.lines(path) do
    if i % threads == id then
      tokens[#tokens + 1] = line
    end
    i = i + 1
  end
  if #tokens == 0 then
    error("no tokens in " .. tostring(path))
  end
  pos = 0
end

function request()
  pos = pos + 1
  if pos > #tokens then
    pos = 1
  end
  return wrk.format("GET", "/hello", { ["Authorization"] = "Bearer " .. tokens[pos] })
end
