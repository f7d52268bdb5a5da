-- wrk script: POST the JSON body in $WRK_BODY (wrk parses no SSE; it only
-- reads each response to its end).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY")
