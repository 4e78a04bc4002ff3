<?php
// Benchmark reference: the work ITFlow 2.4.6's api/v1/<module>/read.php does for a list or
// by-id read, written out plainly so it can run without ITFlow itself. Per request: connect,
// one escaped key query (api_key_secret = '...' AND api_key_expire > NOW()), one data query
// with the client filter, rows fetched as mysqli_fetch_array (numeric and named keys, as
// ITFlow's read_output does), json_encode. ITFlow also loads its config and function
// library on every request, so this is a lower bound on ITFlow's own cost.
header('Content-Type: application/json');
$db = mysqli_connect('127.0.0.1', getenv('BENCH_DB_USER') ?: 'root', getenv('BENCH_DB_PASSWORD') ?: '',
                     getenv('BENCH_DB') ?: 'itflow_bench');
$key = mysqli_real_escape_string($db, $_GET['api_key'] ?? '');
$found = mysqli_query($db, "SELECT * FROM api_keys WHERE api_key_secret = '$key' AND api_key_expire > NOW() LIMIT 1");
if (mysqli_num_rows($found) != 1) {
    http_response_code(401);
    echo json_encode(['success' => 'False', 'message' => 'Authentication failed. API key is invalid or has expired.']);
    exit;
}
$client_id = intval(mysqli_fetch_assoc($found)['api_key_client_id']);
$scope = $client_id ? "'$client_id'" : "'%'";
$limit = intval($_GET['limit'] ?? 50);
$offset = intval($_GET['offset'] ?? 0);
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === '/api/v1/clients/read.php') {
    $sql = "SELECT * FROM clients WHERE client_id LIKE $scope ORDER BY client_id LIMIT $limit OFFSET $offset";
} elseif ($path === '/api/v1/assets/read.php' && isset($_GET['asset_id'])) {
    $id = intval($_GET['asset_id']);
    $sql = "SELECT * FROM assets WHERE asset_id = '$id' AND asset_client_id LIKE $scope";
} else {
    http_response_code(404);
    exit;
}
$result = mysqli_query($db, $sql);
$rows = [];
while ($row = mysqli_fetch_array($result)) {
    $rows[] = $row;
}
if ($rows) {
    echo json_encode(['success' => 'True', 'count' => count($rows), 'data' => $rows]);
} else {
    echo json_encode(['success' => 'False',
                      'message' => 'No resource (for this client and company) with the specified parameter(s).']);
}
