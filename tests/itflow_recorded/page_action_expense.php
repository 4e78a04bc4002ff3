<?php
/*
 * Runs one action of ITFlow's own agent expense page (agent/post/expense.php: add_expense,
 * edit_expense, delete_expense) with php-cli, as a signed-in agent's form post (or delete
 * link) would: the agent's session and CSRF token are set here instead of by a login.
 * Prints the instant the database clock was held at before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_expense.php add_expense|edit_expense 'FORM JSON'
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_expense.php delete_expense EXPENSE_ID
 *
 * Used by record_expenses.py.
 */

$root = getenv('ITFLOW_ROOT');
$action = $argv[1];

$mysqli = mysqli_connect('127.0.0.1', 'root', '', getenv('ITFLOW_DB'));
date_default_timezone_set('UTC');
mysqli_query($mysqli, "SET time_zone = '+00:00'");

require_once "$root/functions.php";

// What includes/load_user_session.php and load_company_settings.php set for the signed-in
// agent (user 1, an admin) and the company.
$_SESSION = ['logged' => true, 'user_id' => 1, 'csrf_token' => 'recording-token'];
$session_user_id = 1;
$session_name = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT user_name FROM users WHERE user_id = 1"))['user_name'];
$session_is_admin = true;
$session_ip = '127.0.0.1';
$session_user_agent = 'page-recording';
$session_company_name = 'Recording Co';
$session_company_currency = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT company_currency FROM companies WHERE company_id = 1"))['company_currency'];
$_SERVER['HTTP_USER_AGENT'] = $session_user_agent;
$_SERVER['HTTP_REFERER'] = 'expenses.php';

time_sleep_until(floor(microtime(true)) + 1.02);
$instant = time();
mysqli_query($mysqli, "SET timestamp = $instant");
echo date('Y-m-d H:i:s', $instant), "\n";

if ($action === 'delete_expense') {
    $_SERVER['REQUEST_METHOD'] = 'GET';
    $_GET = ['delete_expense' => intval($argv[2]), 'csrf_token' => 'recording-token'];
} elseif ($action === 'add_expense' || $action === 'edit_expense') {
    $_SERVER['REQUEST_METHOD'] = 'POST';
    $_POST = array_merge(json_decode($argv[2], true), [$action => 1, 'csrf_token' => 'recording-token']);
} else {
    fwrite(STDERR, "unknown action $action\n");
    exit(2);
}

define('FROM_POST_HANDLER', true);
chdir("$root/agent/post");  // the handler requires its model by a relative path
require "$root/agent/post/expense.php";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
