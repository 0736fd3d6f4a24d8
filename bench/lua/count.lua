-- Shared by the scripts that stop after a number of answers (run from the repository root).
-- wrk runs for its whole -d even after a thread stops: `count_answer` ends the process once
-- `limit` answers are in, saying how many arrived (the caller reads this line instead of
-- wrk's summary).
local answered = 0

function count_answer(limit)
  answered = answered + 1
  if answered >= limit then
    io.write(string.format("%d answers\n", answered))
    io.stdout:flush()
    os.exit(0)
  end
end
