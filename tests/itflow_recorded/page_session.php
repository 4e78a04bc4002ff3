<?php
/*
 * What every page_action*.php runner sets up before it runs one of ITFlow's page handlers
 * with php-cli (required by each of them; ITFLOW_ROOT and ITFLOW_DB name ITFlow's tree and
 * its database):
 *
 *   $root, $mysqli        ITFlow's tree and a connection to its database, both on UTC
 *   functions.php         ITFlow's own functions, loaded from $root
 *   the agent's session   what includes/load_user_session.php sets for the signed-in agent
 *                         (user 1, an admin) and the CSRF token ('recording-token'), the
 *                         company name 'Recording Co' (a runner may set its own after this)
 *   hold_recording_clock  starts on a fresh second and holds the database clock there
 *
 * The runners keep what differs: their arguments, request method, referer, the company's
 * settings they need, and the form each action sends.
 */

$root = getenv('ITFLOW_ROOT');

$mysqli = mysqli_connect('127.0.0.1', 'root', '', getenv('ITFLOW_DB'));
date_default_timezone_set('UTC');
mysqli_query($mysqli, "SET time_zone = '+00:00'");

require_once "$root/functions.php";

// What includes/load_user_session.php sets for the signed-in agent (user 1, an admin).
$_SESSION = ['logged' => true, 'user_id' => 1, 'csrf_token' => 'recording-token'];
$session_user_id = 1;
$session_name = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT user_name FROM users WHERE user_id = 1"))['user_name'];
$session_is_admin = true;
$session_ip = '127.0.0.1';
$session_user_agent = 'page-recording';
$session_company_name = 'Recording Co';
$_SERVER['HTTP_USER_AGENT'] = $session_user_agent;

/*
 * Start on a fresh second and hold the database clock there, so that PHP's date() and
 * MySQL's NOW() name the same instant for the whole action; print that instant (the first
 * line of the runner's output, which the recorders read).
 */
function hold_recording_clock($mysqli)
{
    time_sleep_until(floor(microtime(true)) + 1.02);
    $instant = time();
    mysqli_query($mysqli, "SET timestamp = $instant");
    echo date('Y-m-d H:i:s', $instant), "\n";
    return $instant;
}
