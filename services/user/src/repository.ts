// The user service's repository, built over one fork by initORM's data access (see
// services/kit/src/db.ts).
import { EntityRepository } from "@parley/kit";
import { User } from "./user.entity.js";

/** A place in the search order: (match rank, lower(username), id). */
export interface SearchCursor {
  rank: number;
  name: string;
  id: string;
}

export class UserRepository extends EntityRepository<User> {
  /**
   * Users whose username or display name (lowercased) is like `pattern`, after `after` in the
   * search order: prefix matches (like `prefix`) rank 0, other matches 1; keyset pagination
   * over (rank, lower(username), id). `limit` users at most, each with its place in the order.
   */
  async search(prefix: string, pattern: string, after: SearchCursor, limit: number): Promise<{ user: User; cursor: SearchCursor }[]> {
    const rows: Record<string, unknown>[] = await this.em.getConnection().execute(
      `select * from (
         select u.*, lower(u.username) as sort_name,
                case when lower(u.username) like ? or lower(u.display_name) like ? then 0 else 1 end as match_rank
         from users u
         where lower(u.username) like ? or lower(u.display_name) like ?
       ) s
       where (s.match_rank, s.sort_name, s.id) > (?, ?, ?::uuid)
       order by s.match_rank, s.sort_name, s.id
       limit ?`,
      [prefix, prefix, pattern, pattern, after.rank, after.name, after.id, limit],
      "all",
    );
    return rows.map(({ sort_name, match_rank, ...columns }) => ({
      user: this.em.map(User, columns),
      cursor: { rank: Number(match_rank), name: String(sort_name), id: String(columns.id) },
    }));
  }

  /** The id of the user with this email (`column` "email") or username, compared lowercased. */
  async idByLogin(column: "email" | "username", login: string): Promise<string | undefined> {
    const [row] = await this.em
      .getConnection()
      .execute<{ id: string }[]>(`select id from users where lower(${column}) = ? limit 1`, [login], "all");
    return row?.id;
  }
}
