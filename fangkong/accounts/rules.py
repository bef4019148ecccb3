"""Who may do what: permissions as predicates on the user's role.

Where is decided separately, by the area prefix in RestrictedQuerySet. The
permission names follow Django's ``<app>.<action>_<model>`` so that
``restrict(user, action)`` can ask for them.
"""

import rules

from .choices import Role

R = Role


def has_role(*roles):
    names = {str(r) for r in roles}

    @rules.predicate(name=f"has_role({','.join(sorted(names))})")
    def predicate(user):
        return user.is_authenticated and user.role in names

    return predicate


is_superuser = rules.is_superuser
is_active_user = rules.is_active

hq = has_role(R.HQ_ADMIN, R.HQ_STAFF)
area_officers = has_role(R.TOWNSHIP_OFFICER, R.VILLAGE_OFFICER)
field_staff = hq | area_officers | has_role(R.GRID_WORKER)
# Who may browse the person register within their area.
people_readers = field_staff | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER, R.SUPERVISOR, R.AUDITOR)
people_revealers = field_staff | has_role(R.EPIDEMIOLOGIST)
people_exporters = hq | area_officers | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER)
people_mergers = hq | has_role(R.TOWNSHIP_OFFICER)
auditors = has_role(R.AUDITOR, R.HQ_ADMIN)
checkpoint_staff = has_role(R.CHECKPOINT_OFFICER)
venue_managers = has_role(R.VENUE_MANAGER)
site_staff = has_role(R.SITE_STAFF)
# 五包一 members who are not area staff: they see the people whose care teams they are on, nothing else.
care_members = has_role(R.COMMUNITY_DOCTOR, R.POLICE_OFFICER, R.VOLUNTEER)
anyone = rules.is_authenticated

PERMISSIONS = {
    "areas.view_area": anyone,
    "areas.import_area": has_role(R.HQ_ADMIN),
    "areas.view_building": people_readers,
    "areas.view_household": people_readers,
    "areas.change_household": field_staff,
    "people.view_person": people_readers,
    "people.add_person": field_staff,
    "people.change_person": field_staff,
    "people.reveal_person": people_revealers,
    "people.export_person": people_exporters,
    "people.merge_person": people_mergers,
    "people.view_keygroup": anyone,
    "people.view_registerimport": field_staff,
    "tasks.view_task": anyone,
    "tasks.change_task": anyone,
    "tasks.add_task": hq | area_officers | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER),
    # Policy: HQ keeps the risk-area list and the packs; everyone may read them.
    "policy.view_riskarea": anyone,
    "policy.add_riskarea": hq,
    "policy.change_riskarea": hq,
    "policy.view_policypack": anyone,
    "policy.add_policypack": hq,
    "policy.change_policypack": hq,
    "policy.activate_policypack": hq,
    "policy.view_controlorder": people_readers | site_staff,
    # Advancing a stage by hand or releasing: HQ, the site, the township and village that run home measures.
    "policy.change_controlorder": hq | area_officers | site_staff,
    # Arrivals: field staff follow up in their area; checkpoints check whoever comes by.
    "declarations.view_declaration": people_readers | checkpoint_staff,
    "declarations.change_declaration": field_staff,
    "declarations.add_declaration": field_staff | checkpoint_staff,
    "declarations.export_declaration": people_exporters,
    "declarations.view_checkpoint": field_staff | checkpoint_staff,
    "declarations.change_checkpoint": hq | has_role(R.TOWNSHIP_OFFICER),
    "declarations.add_checkpointpassage": hq | has_role(R.TOWNSHIP_OFFICER) | checkpoint_staff,
    "declarations.view_checkpointpassage": field_staff | checkpoint_staff,
    # Venues: field staff and the venue's own manager register; departments inspect; only
    # epidemiologists and HQ read who was where (tracing), managers see counts.
    "venues.view_venuetype": anyone,
    "venues.change_venuetype": has_role(R.HQ_ADMIN),
    "venues.view_venue": people_readers | venue_managers,
    "venues.add_venue": field_staff | venue_managers,
    "venues.change_venue": field_staff | venue_managers,
    "venues.view_checkin": hq | has_role(R.EPIDEMIOLOGIST),
    "venues.add_checkin": hq,
    "venues.view_compliance": hq | area_officers | has_role(R.DEPT_OFFICER, R.SUPERVISOR),
    # Tracing: trajectories and contact evidence are for epidemiologists and HQ only; grid workers get
    # tasks with a one-line reason. Published zones are everyone's business in the area.
    "tracing.view_case": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.add_case": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.change_case": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.view_contact": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.change_contact": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.export_contact": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.view_cluster": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.view_controlzone": field_staff | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER, R.SUPERVISOR),
    "tracing.add_controlzone": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.change_controlzone": hq | has_role(R.EPIDEMIOLOGIST),
    "tracing.publish_controlzone": hq,
    # Testing: sampling points and their operators (site staff, lab, HQ); results readable by field staff.
    "testing.view_samplingpoint": field_staff | has_role(R.LAB_OPERATOR, R.SITE_STAFF, R.EPIDEMIOLOGIST),
    "testing.change_samplingpoint": hq | area_officers,
    "testing.view_samplingsession": hq | area_officers | has_role(R.LAB_OPERATOR, R.SITE_STAFF),
    "testing.add_samplingsession": hq | area_officers | has_role(R.SITE_STAFF, R.GRID_WORKER),
    "testing.view_tube": hq | area_officers | has_role(R.LAB_OPERATOR, R.SITE_STAFF, R.EPIDEMIOLOGIST),
    "testing.view_sample": field_staff | has_role(R.LAB_OPERATOR, R.SITE_STAFF, R.EPIDEMIOLOGIST),
    "testing.add_sample": hq | area_officers | has_role(R.SITE_STAFF, R.GRID_WORKER),
    "testing.add_labresult": hq | has_role(R.LAB_OPERATOR),
    "testing.view_labresult": hq | has_role(R.LAB_OPERATOR, R.EPIDEMIOLOGIST),
    "testing.view_poolfollowup": field_staff | has_role(R.EPIDEMIOLOGIST),
    # Key-group rosters: kept by departments (分解到部门、细化到人头), read by HQ, areas and supervisors.
    "testing.view_rosterentry": hq | area_officers | has_role(R.DEPT_OFFICER, R.SUPERVISOR),
    "testing.add_rosterentry": hq | has_role(R.DEPT_OFFICER),
    "testing.change_rosterentry": hq | has_role(R.DEPT_OFFICER),
    # Mass-testing rounds: HQ starts them; field staff account for every resident.
    "testing.view_testround": field_staff | has_role(R.EPIDEMIOLOGIST, R.SITE_STAFF, R.SUPERVISOR),
    "testing.add_testround": hq,
    "testing.change_testround": hq,
    "testing.add_roundexemption": field_staff,
    # Quarantine: HQ sets up sites; site staff run them; areas run home measures with the care teams.
    "quarantine.view_quarantinesite": hq | area_officers | site_staff | has_role(R.EPIDEMIOLOGIST, R.SUPERVISOR),
    "quarantine.add_quarantinesite": hq,
    "quarantine.change_quarantinesite": hq | site_staff,
    "quarantine.view_stay": hq | area_officers | site_staff | has_role(R.SUPERVISOR),
    "quarantine.add_stay": hq | site_staff,
    "quarantine.view_transfer": field_staff | site_staff | checkpoint_staff,
    "quarantine.add_transfer": hq | area_officers | site_staff,
    "quarantine.change_transfer": field_staff | site_staff,
    "quarantine.view_healthcheck": field_staff | site_staff | care_members | has_role(R.SUPERVISOR),
    "quarantine.add_healthcheck": field_staff | site_staff | care_members,
    "quarantine.view_homevisit": field_staff | care_members | has_role(R.SUPERVISOR),
    "quarantine.add_homevisit": field_staff | care_members | has_role(R.SUPERVISOR),
    "quarantine.view_census": hq | area_officers | has_role(R.SUPERVISOR, R.DEPT_OFFICER),
    "quarantine.view_caremember": field_staff | care_members | site_staff | has_role(R.SUPERVISOR),
    "quarantine.change_caremember": hq | area_officers,
    # Sentinels: reporters (clinics, pharmacies, schools) see and report for their own sentinels only
    # (sentinels.services.sentinels_for); areas register them and follow the buyers up.
    "sentinels.view_sentinel": field_staff | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER, R.SUPERVISOR,
                                                      R.SENTINEL_REPORTER),
    "sentinels.add_sentinel": hq | area_officers,
    "sentinels.change_sentinel": hq | area_officers,
    "sentinels.view_sentinelreport": field_staff | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER, R.SUPERVISOR,
                                                            R.SENTINEL_REPORTER),
    "sentinels.add_sentinelreport": hq | area_officers | has_role(R.SENTINEL_REPORTER),
    "sentinels.view_drugpurchase": field_staff | has_role(R.EPIDEMIOLOGIST, R.SENTINEL_REPORTER),
    "sentinels.view_drugproduct": anyone,
    # Early warning: signals and alerts name people; epidemiologists and HQ read the names, area officers,
    # departments and supervisors see them masked. Epidemiologists verify; responding dispatches tasks.
    "warning.view_signal": hq | area_officers | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER, R.SUPERVISOR),
    "warning.reveal_signal": hq | has_role(R.EPIDEMIOLOGIST),
    "warning.view_alert": hq | area_officers | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER, R.SUPERVISOR),
    "warning.verify_alert": hq | has_role(R.EPIDEMIOLOGIST),
    "warning.respond_alert": hq | has_role(R.EPIDEMIOLOGIST, R.TOWNSHIP_OFFICER),
    "warning.close_alert": hq | has_role(R.EPIDEMIOLOGIST),
    "warning.view_detectorconfig": hq | area_officers | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER, R.SUPERVISOR),
    "warning.change_detectorconfig": hq,
    "warning.view_alertrule": hq | area_officers | has_role(R.EPIDEMIOLOGIST, R.DEPT_OFFICER, R.SUPERVISOR),
    "warning.change_alertrule": hq,
    "warning.add_alertrule": hq,
    "audit.view_auditevent": auditors,
    "audit.export_auditevent": auditors,
    "core.view_job": anyone,
    "accounts.view_user": has_role(R.HQ_ADMIN),
    # Reference data kept in the admin site (/admin/) by the county HQ admin.
    "accounts.add_user": has_role(R.HQ_ADMIN),
    "accounts.change_user": has_role(R.HQ_ADMIN),
    "accounts.view_organization": has_role(R.HQ_ADMIN),
    "accounts.add_organization": has_role(R.HQ_ADMIN),
    "accounts.change_organization": has_role(R.HQ_ADMIN),
    "people.add_keygroup": has_role(R.HQ_ADMIN),
    "people.change_keygroup": has_role(R.HQ_ADMIN),
    "areas.change_area": has_role(R.HQ_ADMIN),
}

for name, predicate in PERMISSIONS.items():
    rules.add_perm(name, (predicate | is_superuser) & is_active_user)
