-- wrk: every request is a POST of the JSON body in BENCH_BODY (set by bench/run.py).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
