import { describe, expect, it } from 'vitest';
import { workspacePlaceProblem } from '../../src/domain/project.js';

const places = {
  userHome: '/home/ada',
  berthFolders: [
    { folder: '/home/ada/.local/share/berth', what: "berth's data folder" },
    { folder: '/home/ada/.config/berth', what: "berth's settings folder" },
  ],
};
const problem = (real: string) => workspacePlaceProblem(real, places);

describe('where a workspace may be', () => {
  it.each([
    ['/', /^\/ is the root folder$/],
    ['/etc', /^\/etc is a system folder$/],
    ['/etc/nginx', /^\/etc\/nginx is inside \/etc, a system folder$/],
    ['/usr', /^\/usr is a system folder$/],
    ['/usr/local/src/app', /inside \/usr/],
    ['/usr/bin', /inside \/usr/],
    ['/boot', /system folder/],
    ['/dev/shm/x', /inside \/dev/],
    ['/proc/1/cwd', /inside \/proc/],
    ['/sys/fs', /inside \/sys/],
    ['/run/user/1000', /inside \/run/],
    ['/sbin', /system folder/],
    ['/lib64', /system folder/],
    ['/var', /^\/var is a system folder \(a folder inside it may be a workspace\)$/],
    ['/var/lib', /system folder/],
    ['/tmp', /system folder/],
    ['/var/tmp', /system folder/],
    ['/root', /system folder/],
    ['/home', /system folder/],
    ['/srv', /system folder/],
    ['/home/ada', /^\/home\/ada is your home folder \(a folder inside it may be a workspace\)$/],
    ['/home/ada/.local/share/berth', /^\/home\/ada\/\.local\/share\/berth is berth's data folder$/],
    ['/home/ada/.local/share/berth/workspaces/app', /is inside berth's data folder \/home\/ada\/\.local\/share\/berth$/],
    ['/home/ada/.config/berth', /is berth's settings folder$/],
    ['/home/ada/.local', /^\/home\/ada\/\.local holds berth's data folder/],
    ['/home/ada/app\nx', /^the path has control characters$/],
    ['/home/ada/app\u001b[2J', /control characters/],
    ['/home/ada/app\u009b', /control characters/],
  ])('refuses %j, saying why', (real, reason) => {
    expect(problem(real)).toMatch(reason);
  });

  it.each(['/home/ada/code/app', '/tmp/berth-test-x', '/var/tmp/build', '/var/lib/jenkins/workspace/app', '/srv/site', '/root/app', '/etcetera', '/usrdata/x', '/opt/app'])(
    'lets %j be one',
    (real) => {
      expect(problem(real)).toBeUndefined();
    },
  );
});
