-- An online shop seen by three kinds of visitors: many browse, some log in and buy, one
-- admin checks orders.
--
-- This file needs the project's own test target (tests/target/sl_target.c), which answers
-- 200 {"ok":true} to any path, and a token plus a session cookie to /login. Another
-- server on that port answers 404s, the logins carry no token, and the shoppers' tasks
-- fail with "attempt to concatenate a nil value (field 'token')". `make demo` starts the
-- target on a free port and runs this file against it; by hand:
--
--   build/sl_target --port 8000 &
--   build/stormlight -f examples/shop.lua -u 40 -r 10 -t 30s
--
-- Also try: --list, --tags smoke, --exclude-tags admin.
host = "http://127.0.0.1:8000"

-- Accounts for the shoppers, read once; each shopper logs in with the next row.
local accounts = csv("shop_users.csv")

local function auth(u)
  return {Authorization = "Bearer " .. u.token}
end

-- Anonymous visitors: most of the traffic, reading pages at a human pace.
User{
  name = "browser",
  weight = 3,
  wait = between(0.5, 2),
  tasks = {
    Task{"GET", "/", name = "home", weight = 4, tags = {"smoke"}},
    Task{"GET", "/products?page=1", name = "/products?page=[n]", weight = 3},
    {function(u)
       local r = u:get("/products/" .. math.random(1, 500), {name = "/products/[id]"})
       if r.ok and not r:json().ok then
         r:failure("product page without ok")
       end
     end, weight = 6, name = "view product", tags = {"smoke"}},
    {function(u)
       u:get("/search", {query = {q = "desk lamp"}, name = "/search?q=[term]"})
     end, weight = 2, name = "search"},
  },
}

-- Customers: log in once, then fill the cart and sometimes check out.
User{
  name = "shopper",
  weight = 1,
  wait = between(1, 3),
  on_start = function(u)
    local who = accounts()
    local r = u:post("/login", {json = {user = who.user, password = who.password}})
    u.token = r:json().token
    u.cart = 0
  end,
  tasks = {
    {function(u)
       local sku = "sku-" .. math.random(1, 50)
       u:post("/cart/items", {json = {sku = sku, qty = 1}, headers = auth(u),
                              name = "/cart/items"})
       u.cart = u.cart + 1
     end, weight = 3, name = "add to cart"},
    {function(u)
       if u.cart == 0 then
         return
       end
       u:get("/cart", {headers = auth(u)})
       local r = u:post("/checkout", {json = {payment = "card"}, headers = auth(u)})
       if r.status == 200 then
         u.cart = 0
       end
     end, weight = 1, name = "checkout", tags = {"checkout"}},
  },
  on_stop = function(u)
    u:post("/logout", {headers = auth(u)})
  end,
  tags = {"cart"},
}

-- One back-office user whatever -u says, polling every 5 s, in a fixed order.
User{
  name = "admin",
  fixed_count = 1,
  wait = pacing(5),
  sequential = true,
  tags = {"admin"},
  on_start = function(u)
    u.token = u:post("/login", {json = {user = "admin", password = "admin"}}):json().token
  end,
  tasks = {
    Task{"GET", "/admin/orders?status=open", name = "/admin/orders"},
    function(u)
      u:post("/admin/reindex", {json = {full = false}, headers = auth(u)})
    end,
  },
}
