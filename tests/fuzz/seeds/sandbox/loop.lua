local t = {} for i = 1, 10 do t[i] = ("x"):rep(i) end return #t
