/**
 * `berth approve <name> [<request id>] [--always] [--answer TEXT]` and
 * `berth deny <name> [<request id>] [--message TEXT]`: answer, from any
 * shell or script, what a project's agent waits for. Without an id, the
 * project's one waiting request; several need an id (`berth chat --json`
 * prints them, and so does the error).
 */
import { answerFromChoice, type PendingRequest } from '../domain/approvals.js';
import { BerthError } from '../domain/errors.js';
import { quote } from '../domain/project.js';
import { visibleText } from '../domain/visible-text.js';
import { resolvePaths } from '../store/paths.js';
import { ProjectRegistry, requireProject } from '../store/project-registry.js';
import type { CommandHandler, CommandInput } from './command-table.js';
import { connectToDaemon } from './daemon-connection.js';
import { printLine } from './output.js';

export const approve: CommandHandler = async (input) => {
  const { name, request, send } = await waitingRequest(input, 'approve');
  const always = input.options.always === true;
  const typed = typeof input.options.answer === 'string' ? input.options.answer : undefined;
  if (request.questions) {
    if (always) throw new BerthError('--always keeps a tool rule: a question is answered, not kept');
    if (typed === undefined) throw new BerthError(`the agent asks ${quote(request.questions[0]!.question)}: answer with --answer TEXT (an option's number or your own words)`);
    if (request.questions.length > 1) throw new BerthError(`the agent asks ${request.questions.length} questions at once: answer them in berth chat or the control center`);
    const question = request.questions[0]!;
    await send({ allow: true, answers: { [question.question]: answerFromChoice(question, typed) } });
    printLine(`answered the question of ${name}'s agent`);
    return;
  }
  if (typed !== undefined) throw new BerthError(`--answer is for a question; ${name}'s agent asks to use ${visibleText(request.tool, 'line')}`);
  await send({ allow: true, ...(always && { always: true }) });
  printLine(`allowed ${visibleText(request.tool, 'line')} in ${name}${always && request.rule ? `, and from now on ${visibleText(request.rule, 'line')}` : ''}`);
};

export const deny: CommandHandler = async (input) => {
  const { name, request, send } = await waitingRequest(input, 'deny');
  const message = typeof input.options.message === 'string' ? input.options.message : undefined;
  await send({ allow: false, ...(message !== undefined && { message }) });
  printLine(`denied ${visibleText(request.tool, 'line')} in ${name}`);
};

async function waitingRequest(input: CommandInput, verb: 'approve' | 'deny') {
  const [name, id] = input.args as [string, string | undefined];
  const paths = resolvePaths();
  await requireProject(new ProjectRegistry(paths.registry), name);
  const client = await connectToDaemon(paths.home, input.global.engine);
  const { requests } = await client.call<{ requests: PendingRequest[] }>('GET', '/v1/requests');
  const waiting = requests.filter((request) => request.project === name);
  const request = id === undefined ? onlyOne(name, waiting) : waiting.find((candidate) => candidate.id === id);
  if (!request) throw new BerthError(`no request ${quote(id ?? '')} waits in ${name}${waiting.length > 0 ? `: those that do are ${ids(waiting)}` : ''}`);
  const route = `/v1/projects/${encodeURIComponent(name)}/requests/${encodeURIComponent(request.id)}`;
  const by = `berth ${verb} (pid ${process.pid})`;
  return { name, request, send: (answer: Record<string, unknown>) => client.call('POST', route, { ...answer, by }) };
}

function onlyOne(name: string, waiting: PendingRequest[]): PendingRequest {
  if (waiting.length === 0) throw new BerthError(`nothing waits for an answer in ${name}`);
  if (waiting.length > 1) throw new BerthError(`${waiting.length} requests wait in ${name}: name one of ${ids(waiting)}`);
  return waiting[0]!;
}

function ids(requests: PendingRequest[]): string {
  return requests.map((request) => `${visibleText(request.id, 'line')} (${visibleText(request.tool, 'line')})`).join(', ');
}
