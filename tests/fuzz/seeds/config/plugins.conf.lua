plugins = {
  audit = { colour = "blue" },
  mail = {},
  email = { smtp = 25 },
}
