<?php
/*
 * Runs one action of ITFlow's own agent expense page (agent/post/expense.php: add_expense,
 * edit_expense, delete_expense) with php-cli, as a signed-in agent's form post (or delete
 * link) would: the agent's session and CSRF token are set instead of by a login
 * (page_session.php).
 * Prints the instant the database clock was held at before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_expense.php add_expense|edit_expense 'FORM JSON'
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_expense.php delete_expense EXPENSE_ID
 *
 * Used by record_expenses.py.
 */

require __DIR__ . '/page_session.php';  // $root, $mysqli, functions.php, the agent's session
$action = $argv[1];

// What includes/load_company_settings.php sets for the company (the agent's session is
// page_session.php's).
$session_company_currency = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT company_currency FROM companies WHERE company_id = 1"))['company_currency'];
$_SERVER['HTTP_REFERER'] = 'expenses.php';

$instant = hold_recording_clock($mysqli);  // page_session.php: the clock held, the instant printed

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
