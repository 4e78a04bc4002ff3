<?php
/*
 * Runs one action of ITFlow's own agent ticket page (agent/post/ticket.php) with php-cli,
 * as a signed-in agent would trigger it: the agent's session variables and CSRF token are
 * set (page_session.php) instead of by a login. Used by record_ticket_actions.py; prints the instant
 * the database clock was held at (every NOW() of the action) before the page runs.
 *
 *   ITFLOW_ROOT=/path/to/itflow ITFLOW_DB=dbname php page_action.php close|reopen|assign TICKET_ID [USER_ID]
 *   ... php page_action.php add_watcher TICKET_ID EMAILS          (agent/post/ticket.php)
 *   ... php page_action.php remove_watcher WATCHER_ID
 *   ... php page_action.php add_task TICKET_ID NAME                (agent/post/task.php)
 *   ... php page_action.php complete_task|undo_complete_task TASK_ID
 *   ... php page_action.php order_tasks TICKET_ID TASK_ID,TASK_ID,...  (agent/ajax.php)
 *   ... php page_action.php merge TICKET_ID INTO_TICKET_ID COMMENT MOVE_REPLIES   (agent/post/ticket.php)
 *
 * Used by record_ticket_actions.py and record_ticket_extras.py.
 */

require __DIR__ . '/page_session.php';  // $root, $mysqli, functions.php, the agent's session
$action = $argv[1];
$ticket_id = intval($argv[2]);
$assign_to = intval($argv[3] ?? 0);

$_SERVER['REQUEST_METHOD'] = in_array($action, ['assign', 'add_watcher', 'add_task', 'order_tasks', 'merge'], true) ? 'POST' : 'GET';
$handler = "$root/agent/post/ticket.php";
$_SERVER['HTTP_REFERER'] = 'ticket.php';

$instant = hold_recording_clock($mysqli);  // page_session.php: the clock held, the instant printed

if ($action === 'close') {
    $_GET = ['close_ticket' => $ticket_id, 'csrf_token' => 'recording-token'];
} elseif ($action === 'reopen') {
    $_GET = ['reopen_ticket' => $ticket_id, 'csrf_token' => 'recording-token'];
} elseif ($action === 'assign') {
    // The assign modal posts the ticket's status as it shows it.
    $status = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT ticket_status FROM tickets WHERE ticket_id = $ticket_id"))['ticket_status'];
    $_POST = ['assign_ticket' => 1, 'ticket_id' => $ticket_id, 'assigned_to' => $assign_to,
              'ticket_status' => $status, 'csrf_token' => 'recording-token'];
} elseif ($action === 'add_watcher') {
    $_POST = ['add_ticket_watcher' => 1, 'ticket_id' => $ticket_id, 'watcher_email' => $argv[3],
              'watcher_notify' => 0, 'csrf_token' => 'recording-token'];
} elseif ($action === 'remove_watcher') {
    $_GET = ['delete_ticket_watcher' => $ticket_id, 'csrf_token' => 'recording-token'];  // a watcher id
} elseif ($action === 'merge') {
    $_POST = ['merge_ticket' => 1, 'ticket_id' => $ticket_id, 'merge_into_ticket_id' => intval($argv[3]),
              'merge_comment' => $argv[4], 'merge_move_replies' => intval($argv[5]), 'csrf_token' => 'recording-token'];
} elseif ($action === 'add_task') {
    $_POST = ['add_task' => 1, 'ticket_id' => $ticket_id, 'name' => $argv[3], 'csrf_token' => 'recording-token'];
    $handler = "$root/agent/post/task.php";
} elseif ($action === 'complete_task' || $action === 'undo_complete_task') {
    $_GET = [$action => $ticket_id, 'csrf_token' => 'recording-token'];  // a task id
    $handler = "$root/agent/post/task.php";
} elseif ($action === 'order_tasks') {
    // What the page's drag and drop posts: each task's id and its place, from 0.
    $positions = [];
    foreach (explode(',', $argv[3]) as $place => $id) {
        $positions[] = ['id' => $id, 'order' => $place];
    }
    $_POST = ['update_ticket_tasks_order' => true, 'ticket_id' => $ticket_id, 'positions' => $positions,
              'csrf_token' => 'recording-token'];
    // agent/ajax.php starts with a login check a CLI run cannot pass, so only its handler for
    // this request is run: the block is read from ITFlow's file as it is, and evaluated here.
    $source = file_get_contents("$root/agent/ajax.php");
    $start = strpos($source, "if (isset(\$_POST['update_ticket_tasks_order']))");
    $end = strpos($source, "\nif (isset(", $start + 10);
    define('FROM_POST_HANDLER', true);
    eval(substr($source, $start, $end - $start));  // the block ends with exit
    fwrite(STDERR, "the ajax handler did not exit\n");
    exit(3);
} else {
    fwrite(STDERR, "unknown action $action\n");
    exit(2);
}

define('FROM_POST_HANDLER', true);
require $handler;  // the handler ends with redirect(), which exits
fwrite(STDERR, "the page handler did not redirect\n");
exit(3);
