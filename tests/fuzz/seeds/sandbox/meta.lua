return string.find("abc", "b", 1, true), setmetatable({}, {__index = function() return 1 end}).x
