<?php
/*
 * Runs one action of ITFlow's own agent invoice or quote page (agent/post/invoice.php,
 * agent/post/quote.php) with php-cli, as a signed-in agent would trigger it: the agent's
 * session variables and CSRF token are set (page_session.php) instead of by a login, and the company's
 * settings are read as includes/load_company_settings.php reads them. Used by
 * record_invoices.py; prints the instant the database clock was held at (every NOW() of the
 * action) before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action_sales.php invoice|quote POST|GET FORM_JSON
 *
 * FORM_JSON holds the fields the page's form (POST) or link (GET) sends, the action's own name
 * among them (add_invoice, mark_invoice_sent, ...); the CSRF token is added here.
 */

require __DIR__ . '/page_session.php';  // $root, $mysqli, functions.php, the agent's session
$handler = $argv[1];
$method = $argv[2];
$form = json_decode($argv[3], true);

// What includes/load_company_settings.php sets for company 1, read from its rows (the agent's
// session is page_session.php's).
$company = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT company_name, company_currency FROM companies WHERE company_id = 1"));
$session_company_name = $company['company_name'];
$session_company_currency = $company['company_currency'];
$currency_format = numfmt_create('en_US', NumberFormatter::CURRENCY);
$settings = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT * FROM settings WHERE company_id = 1"));
$config_invoice_prefix = $settings['config_invoice_prefix'];
$config_quote_prefix = $settings['config_quote_prefix'];
$config_base_url = 'itflow.example';
$config_stripe_enable = 0;
$_SERVER['REQUEST_METHOD'] = $method;
$_SERVER['HTTP_REFERER'] = "$handler.php";

$instant = hold_recording_clock($mysqli);  // page_session.php: the clock held, the instant printed

if ($method === 'POST') {
    $_POST = array_merge($form, ['csrf_token' => 'recording-token']);
} else {
    $_GET = array_merge($form, ['csrf_token' => 'recording-token']);
}

define('FROM_POST_HANDLER', true);
chdir("$root/agent/post");  // the handlers require their models by a relative path
require "$root/agent/post/$handler.php";  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
